# expect:
# near-miss: text_overlap
# The same labels rotated and right-aligned, with room below the axes.
import matplotlib.pyplot as plt

names = [f"Department number {i}" for i in range(1, 9)]
fig, ax = plt.subplots()
ax.bar(names, [3, 5, 4, 6, 2, 7, 5, 4])
ax.set_title("Headcount by department")
plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
fig.subplots_adjust(bottom=0.32)
