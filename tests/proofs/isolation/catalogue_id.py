from l2l import claim


@claim(id="wang2021.thm3.closed-form", statement="-", source="test", kind="identity")
def impostor():
    pass
