"""CJK labels render with real glyphs without naming a font (the renderer's fallback chain)."""
import matplotlib.pyplot as plt

cities = ["北京", "上海", "广州", "深圳", "東京"]
population = [21.9, 24.9, 18.7, 17.7, 14.0]

fig, ax = plt.subplots(figsize=(10.24, 7.68), dpi=100)
bars = ax.bar(cities, population, color="#dd8452")
ax.bar_label(bars, fmt="%.1f", padding=3, fontsize=12)
ax.set_title("城市人口 (百万) — city population, millions", fontsize=18)
ax.set_ylim(0, 28)
ax.tick_params(labelsize=13)
fig.tight_layout()
