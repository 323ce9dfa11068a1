# expect:
# near-miss: text_over_legend
# The same note, with the legend moved to the other corner.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([0, 1, 2, 3], [1, 3, 2, 4], label="visits")
ax.plot([0, 1, 2, 3], [2, 1, 3, 3], label="signups")
ax.set_title("Weekly traffic")
ax.legend(loc="lower right")
ax.text(0.02, 0.93, "Q3", transform=ax.transAxes, fontsize=13)
