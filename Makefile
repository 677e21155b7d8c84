# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo-output

.PHONY: install test demo models clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch is pinned first and by version: an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[train,plot,test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .hypothesis

# A simulated 8-h night (real expert stage sequence, EEG matched to real per-stage spectra),
# scored and evaluated against its own hypnogram. Simulated: the numbers say the pipeline works,
# not how accurate the model is on real recordings.
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/sleepscore simulate $(DEMO)/nights --nights 1 --seed 7 --hours 8
	$(BIN)/sleepscore predict $(DEMO)/nights/SC4001E0-PSG.edf --hypnogram $(DEMO)/nights/SC4001EC-Hypnogram.edf \
		-o $(DEMO)/SC4001E0-scored.csv --metrics-json $(DEMO)/SC4001E0-metrics.json --plot $(DEMO)/SC4001E0.png
	$(BIN)/sleepscore evaluate $(DEMO)/nights --trim 30min --report $(DEMO)/evaluation.json
	@echo "outputs in $(DEMO)/"

# The shipped models, retrained from the real Sleep-EDF-20 features with the tool's own train
# command (each run: 4-fold subject-wise cross-validation for the card, then the exported model).
SLEEP_EDF ?= ../shared/data/sleep-edf
TRAIN_SHIPPED = $(BIN)/sleepscore train --dataset sleep-edf20-features --data-dir $(SLEEP_EDF) --cv 4 \
	--arch spectral-robust --epochs 40 --seed 0 --transition-prior $(SLEEP_EDF)/hypnograms-sc78 \
	--recording-crops 0.3 --random-crops 4 --card-notes models/levers.md --force
models: $(STAMP)
	$(TRAIN_SHIPPED) --channels "EEG Fpz-Cz,EEG Pz-Oz" --members 3 -o models/spectral-robust-fpzcz-pzoz.onnx
	$(TRAIN_SHIPPED) --channels "EEG Fpz-Cz,EEG Pz-Oz" --any-eeg -o models/spectral-robust-eeg.onnx
