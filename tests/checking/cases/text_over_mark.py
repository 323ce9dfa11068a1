# expect: text_over_mark
# A value note drawn across the top edge of its bar.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.bar(["A", "B", "C"], [3, 5, 4], color="#c6dbef")
ax.set_title("Weekly visits")
ax.text(0, 2.95, "three", ha="center", va="center", fontsize=16)
ax.set_ylim(0, 6)
