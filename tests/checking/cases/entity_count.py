# expect: commitment_violated
# prompt: a bar chart with 3 bars
# Four bars where three were asked for.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.bar(["a", "b", "c", "d"], [3, 1, 2, 4])
ax.set_title("Counts")
