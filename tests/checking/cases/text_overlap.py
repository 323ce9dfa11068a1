# expect: text_overlap
# Two annotations placed on top of each other.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([0, 1, 2, 3], [2, 3, 1, 4])
ax.set_title("Weekly visits")
ax.text(1.0, 3.0, "Launch day", fontsize=14)
ax.text(1.1, 3.05, "Press release", fontsize=14)
