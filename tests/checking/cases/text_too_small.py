# expect: text_too_small
# A footnote in 4 pt (5.6 px at 100 dpi).
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 4, 9])
ax.set_title("Growth")
fig.text(0.02, 0.02, "Source: internal survey, n = 412", fontsize=4)
