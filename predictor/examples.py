"""The sample patient: one realistic record (the first row of the training data), written once.

The API's OpenAPI examples, the test suite, the image test and the benchmark all use it; it
imports nothing, so scripts outside Django can too. The committed model charges it $17,076.04.
"""

SAMPLE_PATIENT = {"age": 19, "sex": "female", "bmi": 27.9, "children": 0, "smoker": "yes", "region": "southwest"}
# A second one, for examples of a batch.
SECOND_PATIENT = {"age": 33, "sex": "male", "bmi": 22.705, "children": 0, "smoker": "no", "region": "northwest"}
