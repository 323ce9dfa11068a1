# expect:
# near-miss: text_overlap
# The same two annotations, one line apart; and a value label inside its own bar.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
bars = ax.bar(["A", "B", "C"], [3, 5, 4], color="#1f3b73")
ax.bar_label(bars, labels=["3", "5", "4"], label_type="center", color="white", fontsize=14)
ax.set_title("Weekly visits")
ax.text(-0.3, 4.6, "Launch day", fontsize=14)
ax.text(-0.3, 4.2, "Press release", fontsize=14)
ax.set_ylim(0, 6)
