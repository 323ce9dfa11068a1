# expect: low_contrast
# A light grey label on white.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [2, 3, 1])
ax.set_title("Daily load")
ax.text(1.2, 2.5, "Maintenance window", color="#dddddd", fontsize=14)
