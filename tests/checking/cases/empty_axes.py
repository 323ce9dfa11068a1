# expect: empty_axes
# Two panels, data only in the first.
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(10.24, 7.68))
left.plot([1, 2, 3], [2, 1, 3])
left.set_title("Before")
right.set_title("After")
