# expect:
# near-miss: missing_glyph
# Real CJK glyphs (the default font chain has them), box-like ones (口 田 回) among them.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 3, 2])
ax.set_title("北京 visitors", fontsize=16)
ax.set_xlabel("上海 口田 回 visitors")
