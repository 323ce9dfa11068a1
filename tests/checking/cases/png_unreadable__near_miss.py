# expect:
# near-miss: png_unreadable
# png: trailing-bytes
# Bytes after the PNG's end chunk: viewers ignore them, so does the checker.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 2, 3])
ax.set_title("Trailing bytes")
