# expect: ocr_skipped
# png: none
# Checked from the manifest alone (no image): OCR cannot run and the report says so.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 2, 3])
ax.set_title("Manifest only")
