"""The study pages: Overview, Classes, Forgettability, PIEs, Who is hurt, Paper check and the
Frequency experiment, with the chart builders only they use."""
