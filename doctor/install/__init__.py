"""`drdoctor install`: a model family's data file -> a plan (checkout, environment, weights, system, config)
applied with the fixes' plan/consent/apply machinery. Nothing here imports torch.
"""
