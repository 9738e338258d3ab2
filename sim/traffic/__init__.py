"""Traffic microsimulation: IDM vehicles on a street network with junction right of way, parking,
gates and emergency access (DESIGN.md). `model.simulate` is the entry point; `io` reads and writes
SUMO plain XML; `grid` generates the test networks checked against SUMO."""
