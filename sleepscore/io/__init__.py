"""Files in and out: EDF/BDF recordings (:mod:`.edf`), expert hypnograms (:mod:`.hypnogram`,
:mod:`.nsrr_xml`), lights tables (:mod:`.lights`) and the results written (:mod:`.writers`)."""
