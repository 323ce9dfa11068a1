# expect: text_over_legend, low_contrast
# A short note placed where the legend is drawn: the legend box (and a handle line) covers it.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([0, 1, 2, 3], [1, 3, 2, 4], label="visits")
ax.plot([0, 1, 2, 3], [2, 1, 3, 3], label="signups")
ax.set_title("Weekly traffic")
ax.legend(loc="upper left")
ax.text(0.02, 0.93, "Q3", transform=ax.transAxes, fontsize=13)
