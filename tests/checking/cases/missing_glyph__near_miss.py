# expect:
# near-miss: missing_glyph
# Rarer characters that the fonts do have, a box-shaped one (U+25A1) among them.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 3, 2])
ax.set_title("Temperature ± 2 °C → Ω ≈ 5 µm □ ✓")
