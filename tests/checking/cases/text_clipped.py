# expect: text_clipped
# A note that starts near the right edge runs off the canvas.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [3, 1, 2])
ax.set_title("Sensor drift")
fig.text(0.93, 0.5, "Calibrated on 3 May", fontsize=12)
