# expect:
# near-miss: blank_canvas
# No text at all, but a picture: a large filled disc.
import matplotlib.pyplot as plt
from matplotlib.patches import Circle

fig, ax = plt.subplots()
ax.add_patch(Circle((0.5, 0.5), 0.3, color="#2a7ab9"))
ax.set_aspect("equal")
ax.axis("off")
