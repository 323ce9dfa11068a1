# expect:
# near-miss: commitment_violated
# prompt: a line chart titled "Revenue 2024" with 4 bars
# Same words in other typography (case, spacing) and exactly four bars.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.bar(["Q1", "Q2", "Q3", "Q4"], [10, 12, 9, 14])
ax.set_title("REVENUE  2024")
