from django.urls import path

from orders import apis

urlpatterns = [
    path("order", apis.OrderView.as_view(), name="order"),
    path("cancel", apis.CancelView.as_view(), name="cancel"),
    path("order/<str:order_id>", apis.OrderDetailView.as_view(), name="order-detail"),
    path("orders", apis.OrderListView.as_view(), name="orders"),
    path("trades", apis.TradeListView.as_view(), name="trades"),
    path("fills", apis.FillListView.as_view(), name="fills"),
    path("book", apis.BookView.as_view(), name="book"),
]
