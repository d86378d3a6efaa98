"""``torch._inductor``: ember compiles nothing (``ember.compile`` returns the eager function);
the package exists so that code configuring the compiler before calling it imports."""
