"""The bridge node: virtual bridges and Conversion Services."""
