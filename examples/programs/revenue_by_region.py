"""Horizontal bars with value labels: a typical report chart."""
import matplotlib.pyplot as plt

regions = ["North", "South", "East", "West", "Central"]
revenue = [4.2, 3.1, 5.6, 2.4, 3.9]

fig, ax = plt.subplots(figsize=(10.24, 7.68), dpi=100)
bars = ax.barh(regions, revenue, color="#4c72b0")
ax.bar_label(bars, labels=[f"${v:.1f}M" for v in revenue], padding=4, fontsize=12)
ax.set_title("Revenue by region, FY2025", fontsize=18)
ax.set_xlabel("Revenue (USD millions)", fontsize=13)
ax.set_xlim(0, max(revenue) * 1.2)
ax.invert_yaxis()
ax.spines[["top", "right"]].set_visible(False)
fig.tight_layout()
