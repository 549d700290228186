"""Print the merged VaR/ES result the way a risk report states it (used by `make demo`)."""

import json
import sys
from pathlib import Path

path = Path(sys.argv[1])
r = json.loads(path.read_text())
print(f"\n10-day risk of the portfolio ({r['scenarios']:,} scenarios from {r['tasks']} tasks):")
print(f"  VaR 99%   {r['var_99']:>12,.0f}   95% CI [{r['var_99_ci95'][0]:,.0f}, {r['var_99_ci95'][1]:,.0f}]")
print(f"  ES 97.5%  {r['es_97_5']:>12,.0f}   95% CI [{r['es_97_5_ci95'][0]:,.0f}, {r['es_97_5_ci95'][1]:,.0f}]")
print(f"  {r['ci_method']}; drift {r['drift']}")
print(f"\nOutputs: {path.parent.parent}/ (manifest.json lists every task's files)")
