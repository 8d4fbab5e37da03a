"""The language side of the local branch: lexicons, noun phrases, NP -> body part, tokenizers."""
