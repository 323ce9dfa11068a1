# expect: missing_glyph
# A Chinese title in a font without CJK glyphs: every ideograph is drawn as a box.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 3, 2])
ax.set_title("北京 visitors", fontfamily="DejaVu Sans", fontsize=16)
