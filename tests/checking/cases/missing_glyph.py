# expect: missing_glyph
# A character that no installed font has (Linear B) is drawn as a box.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 3, 2])
ax.set_title("Tablet \U00010000 readings")
