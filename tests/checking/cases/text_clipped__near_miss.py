# expect:
# near-miss: text_clipped
# The same note, right-aligned at the same spot: it ends inside the canvas.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [3, 1, 2])
ax.set_title("Sensor drift")
fig.text(0.99, 0.5, "Calibrated on 3 May", fontsize=12, ha="right")
