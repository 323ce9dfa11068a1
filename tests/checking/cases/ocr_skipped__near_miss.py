# expect:
# near-miss: ocr_skipped
# needs: ocr
# With the image, OCR runs and confirms every text.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 2, 3])
ax.set_title("Manifest and image")
