"""The language side, beside data/ in the stack: body-part lexicons (the paper's lists verbatim and
extended), noun-phrase extraction (spaCy for English, underthesea for Vietnamese) and NP -> part
mapping (phrases), coverage statistics, sentence splitting, the tokenizers trained for
small text towers, and reading a caption longer than a tower's context whole (longtext)."""
