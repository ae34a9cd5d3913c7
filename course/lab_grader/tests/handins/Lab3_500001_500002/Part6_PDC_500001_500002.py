# our test client
print("not graded")
