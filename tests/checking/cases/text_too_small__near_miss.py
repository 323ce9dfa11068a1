# expect:
# near-miss: text_too_small
# The footnote in 7 pt: 9.7 px, just above the 9 px minimum.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 4, 9])
ax.set_title("Growth")
fig.text(0.02, 0.02, "Source: internal survey, n = 412", fontsize=7)
