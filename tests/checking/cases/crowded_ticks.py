# expect: text_overlap
# Long category names as horizontal x tick labels collide.
import matplotlib.pyplot as plt

names = [f"Department number {i}" for i in range(1, 9)]
fig, ax = plt.subplots()
ax.bar(names, [3, 5, 4, 6, 2, 7, 5, 4])
ax.set_title("Headcount by department")
