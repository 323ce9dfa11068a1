# expect: png_unreadable
# png: truncated
# The image file is cut short after rendering (a broken write).
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 2, 3])
ax.set_title("Truncated")
