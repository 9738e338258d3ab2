"""Extraction: a Twin turned into the plain inputs of each engine (DESIGN.md, data flow).

One module per engine — `drainage` (stormwater), `site` (evacuation), `roads` (traffic).
Engines never see a Twin; what they get here can equally come from the field's own formats
(SWMM .inp, GeoJSON scenario, SUMO plain XML).
"""
