# expect:
# near-miss: low_contrast
# White labels inside dark bars, grey (#595959) text on white: all readable.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
bars = ax.bar(["north", "south"], [4, 6], color="#23395d")
ax.bar_label(bars, labels=["4 units", "6 units"], label_type="center", color="white", fontsize=14)
ax.set_title("Daily load")
ax.text(-0.3, 5.5, "Maintenance window", color="#595959", fontsize=14)
ax.set_ylim(0, 7)
