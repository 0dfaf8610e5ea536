import os

FILES = {
    "quarterly report (final).txt": "Q3 revenue: 1,204,500 EUR\nQ3 costs: 998,250 EUR\nStatus: FINAL - approved by the board on 2024-10-04\n",
    "quarterly report (draft).txt": "Q3 revenue: 1,190,000 EUR (estimate)\nQ3 costs: 1,001,000 EUR (estimate)\nStatus: DRAFT\n",
    "quarterly report.txt": "Template for the quarterly report.\nRevenue:\nCosts:\nStatus:\n",
    "budget (final) v2.txt": "Budget 2025, second final version.\nTotal: 4,800,000 EUR\n",
    "meeting notes 2024-10-04.txt": "Board meeting: the Q3 report was approved.\nNext meeting: 2025-01-10.\n",
    "read me.md": "# Inbox\n\nFiles waiting to be filed.\n",
}

os.makedirs("/app/inbox", exist_ok=True)
for name, text in FILES.items():
    with open(os.path.join("/app/inbox", name), "w") as f:
        f.write(text)
