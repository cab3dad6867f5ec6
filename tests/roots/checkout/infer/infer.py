# drdoctor test fixture: stands in for the checkout's infer/infer.py
# drdoctor test fixture: stands in for the checkout's infer/infer.py
# drdoctor test fixture: stands in for the checkout's infer/infer.py
# drdoctor test fixture: stands in for the checkout's infer/infer.py
# drdoctor test fixture: stands in for the checkout's infer/infer.py
