"""Image refiners behind one protocol (host side; torch and diffusers are imported lazily).

- `base`: the `Refiner` protocol, `RefineResult`, errors.
- `none`: the default, which returns the draft unchanged.
- `diffusers`: img2img / ControlNet img2img / inpainting under a structure lock.
- `mask`: the structure lock (text boxes + thin strokes) and feathered compositing.
- `structure`: edge F1 and text similarity between a draft and its refinement.
- `verify`: the re-check after refining; `stage`: refine + verify + record, as the pipeline runs it.
- `loading`, `devices`: finding a local model and running it on CUDA, MPS or the CPU.
- `random_pipelines`: tiny and SDXL-sized pipelines with random weights, for tests and benchmarks.
- `command`: the `cocogen refine` command's work.
"""
