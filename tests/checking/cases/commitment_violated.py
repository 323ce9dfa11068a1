# expect: commitment_violated
# prompt: a line chart titled "Revenue 2024"
# The title has the wrong year.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3, 4], [10, 12, 9, 14])
ax.set_title("Revenue 2023")
