# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo-output
# Run as a module, so the code is the checkout's own (python -m puts the current folder first on
# sys.path): .ci/run runs a fresh clone's demo in the existing VENV, whose editable install
# points at another checkout.
SLEEPSCORE = $(BIN)/python -m sleepscore

.PHONY: install test lint demo simulator-data models clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch is pinned first and by version: an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[train,plot,test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check sleepscore tests benchmarks scripts

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .hypothesis

# A simulated 8-h night (real expert stage sequence, EEG matched to real per-stage spectra, both
# from the package's own data), scored and evaluated against its own hypnogram. Simulated: the
# numbers say the pipeline works, not how accurate the model is on real recordings.
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(SLEEPSCORE) simulate $(DEMO)/nights --nights 1 --seed 7 --hours 8
	$(SLEEPSCORE) predict $(DEMO)/nights/SC4001E0-PSG.edf --hypnogram $(DEMO)/nights/SC4001EC-Hypnogram.edf \
		-o $(DEMO)/SC4001E0-scored.csv --metrics-json $(DEMO)/SC4001E0-metrics.json \
		--plot $(DEMO)/SC4001E0.png --report $(DEMO)/SC4001E0-report.html
	$(SLEEPSCORE) evaluate $(DEMO)/nights --trim 30min --report $(DEMO)/evaluation.json
	@echo "demo outputs (one simulated night; agreement on it says the pipeline works, not its accuracy):"
	@echo "  scored hypnogram  $(CURDIR)/$(DEMO)/SC4001E0-scored.csv"
	@echo "  metrics           $(CURDIR)/$(DEMO)/SC4001E0-metrics.json"
	@echo "  plot              $(CURDIR)/$(DEMO)/SC4001E0.png"
	@echo "  HTML report       $(CURDIR)/$(DEMO)/SC4001E0-report.html"
	@echo "  evaluation        $(CURDIR)/$(DEMO)/evaluation.json"
	@echo "  simulated night   $(CURDIR)/$(DEMO)/nights/"

# The simulator's packaged data (sleepscore/data/simulator.npz), refitted from the real Sleep-EDF
# material; needed only when that material or the simulator's fit changes.
simulator-data: $(STAMP)
	$(BIN)/python scripts/make_simulator_data.py $(SLEEP_EDF)

# The shipped models, retrained from the real Sleep-EDF-20 features with the tool's own train
# command (each run: 4-fold subject-wise cross-validation for the card, then the exported model).
SLEEP_EDF ?= ../shared/data/sleep-edf
# Members trained at once, one core each (`make models JOBS=8`); the weights do not depend on it.
JOBS ?= 1
TRAIN_SHIPPED = $(BIN)/sleepscore train --dataset sleep-edf20-features --data-dir $(SLEEP_EDF) --cv 4 \
	--arch spectral-robust --passes 40 --seed 0 --transition-prior $(SLEEP_EDF)/hypnograms-sc78 \
	--recording-crops 0.3 --random-crops 4 --card-notes models/levers.md --jobs $(JOBS) --force
models: $(STAMP)
	$(TRAIN_SHIPPED) --channels "EEG Fpz-Cz,EEG Pz-Oz" --members 3 --member-validation own \
		--member-option 3:high_frequency=false --arch-option muscle_gate=true --arch-option missing_gamma_gate=true \
		-o models/spectral-robust-fpzcz-pzoz.onnx
	$(TRAIN_SHIPPED) --channels "EEG Fpz-Cz,EEG Pz-Oz" --any-eeg --members 3 --member-validation own \
		--member-option 3:high_frequency=false --arch-option muscle_gate=true \
		--arch-option missing_gamma_gate=true --arch-option missing_gamma_weight=0.25 --arch-option shrinkage_epochs=30 \
		-o models/spectral-robust-eeg.onnx
