"""Phone numbers and SMS text: reading numbers into E.164, GSM-7/UCS-2 segments."""
