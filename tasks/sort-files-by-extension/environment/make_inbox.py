import os

FILES = [
    "report.pdf",
    "Annual Report 2023.PDF",
    "photo.jpg",
    "holiday photo.JPG",
    "notes.txt",
    "todo list.txt",
    "data.csv",
    "archive.tar.gz",
    "draft.final.docx",
    "song.Mp3",
    "Makefile",
    "README",
    "run backup.sh",
    "config.yaml",
]

os.makedirs("/app/inbox/old", exist_ok=True)
for name in FILES:
    with open(os.path.join("/app/inbox", name), "w") as f:
        f.write(f"this is the file {name}\n" * 3)
with open("/app/inbox/old/old.txt", "w") as f:
    f.write("an old file that stays where it is\n")
