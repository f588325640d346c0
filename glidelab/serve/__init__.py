"""``glidelab serve``: a glide-path workbench in the browser (Panel on a Bokeh server).

``state`` holds what a session shows as a frozen :class:`~glidelab.serve.state.View`
(and turns it into a study file); ``compute`` turns the view's study into the numbers
on the page through the study runner's own functions; ``app`` lays the page out and
``server`` starts it. Nothing here is imported by ``import glidelab``: Panel loads only
when the command runs.
"""
