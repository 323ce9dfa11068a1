# expect: blank_canvas
# Everything was drawn on a figure that is not the one delivered.
import matplotlib.pyplot as plt

fig = plt.figure()
ax = fig.add_subplot()
ax.axis("off")
