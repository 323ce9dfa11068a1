"""Two axes, a legend and rotated tick labels, saved by the program with bbox_inches='tight'."""
import matplotlib.pyplot as plt
import numpy as np

months = ["January", "February", "March", "April", "May", "June"]
rain = [78, 64, 55, 47, 52, 38]
temp_min = [1, 2, 5, 8, 12, 15]
temp_max = [7, 9, 13, 17, 21, 24]

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), dpi=100)
left.bar(months, rain, color="#55a868")
left.set_title("Rainfall (mm)")
left.tick_params(axis="x", labelrotation=40)
for label in left.get_xticklabels():
    label.set_horizontalalignment("right")
    label.set_rotation_mode("anchor")
x = np.arange(len(months))
right.plot(x, temp_min, marker="o", label="min")
right.plot(x, temp_max, marker="s", label="max")
right.set_xticks(x, [m[:3] for m in months])
right.set_title("Temperature (°C)")
right.legend(loc="upper left")
fig.suptitle("Weather, first half of the year", fontsize=16)
fig.savefig("weather.png", bbox_inches="tight", pad_inches=0.2)
