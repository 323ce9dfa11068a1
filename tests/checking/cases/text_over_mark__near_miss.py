# expect:
# near-miss: text_over_mark
# Value labels wholly inside their bars, and one clear above its bar.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
bars = ax.bar(["A", "B", "C"], [3, 5, 4], color="#c6dbef")
ax.bar_label(bars, labels=["three", "five", "four"], label_type="center", fontsize=16)
ax.set_title("Weekly visits")
ax.text(0, 3.3, "target", ha="center", fontsize=14)
ax.set_ylim(0, 6)
