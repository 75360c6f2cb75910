"""Training: "upload a dataset, train several candidates, keep the best" (seed 004).

The CLI process (``run``) validates and uploads the dataset, registers one
parameterized batch job per run and dispatches one trial per candidate; each trial
(``trial``, inside a Nomad task) searches its candidate's hyperparameters with FLAML
under a time budget and writes its result and skops model to the artifact store. The
leaderboard, budget enforcement, the best model's bundle (``bundle``) and the run
history (``history``, Nomad Variables) are built from there. Pure pieces (``plan``:
candidates, metrics, budgets; ``dataset``; ``leaderboard``) have no I/O.
"""
