//+------------------------------------------------------------------+
//| Follower.mqh -- follower mode: execute one OrderCommand with the |
//| MT4 trade functions (TradeOps.mqh: retries, freeze level, the    |
//| per-tick wait budget) and describe the outcome as an             |
//| ExecutionReport. A command whose retry must wait for a later     |
//| tick is *deferred* (Execute/Recover return false); running it    |
//| again resumes where it stopped: an opening is first looked up by |
//| its command tag, a close/modify/cancel is idempotent.            |
//| The EA only ever touches orders carrying its own magic number.   |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_FOLLOWER_MQH
#define COPYGATEWAY_FOLLOWER_MQH

#include <CopyGateway/TradeOps.mqh>

class CTradeExecutor : public CTradeOps
  {
private:
   //--- our open order whose comment says it was split from `ticket`, 0 = none
   int               FindSplitRemainder(const int ticket,const string symbol)
     {
      string from="from #"+IntegerToString(ticket);
      for(int i=OrdersTotal()-1;i>=0;i--)
        {
         if(!OrderSelect(i,SELECT_BY_POS,MODE_TRADES))
            continue;
         if(OrderMagicNumber()==m_magic && OrderSymbol()==symbol && StringFind(OrderComment(),from)>=0)
            return(OrderTicket());
        }
      return(0);
     }
   //--- remainder of `ticket` after a partial close
   int               FindRemainder(const int ticket,const SOrderRow &before)
     {
      int fallback=0;
      for(int i=OrdersTotal()-1;i>=0;i--)
        {
         if(!OrderSelect(i,SELECT_BY_POS,MODE_TRADES) || OrderTicket()==ticket)
            continue;
         if(OrderSymbol()!=before.symbol || OrderType()!=before.type || OrderMagicNumber()!=m_magic)
            continue;
         if(CgCommentSaysFrom(OrderComment(),ticket))
            return(OrderTicket());
         if(fallback==0 && OrderOpenTime()==before.open_time && OrderLots()<before.lots)
            fallback=OrderTicket();
        }
      return(fallback);
     }
   void              Reject(SExecutionReport &r,const int code,const string message)
     {
      r.status="rejected";
      r.error_code=code;
      r.has_error_code=true;
      r.error_message=message;
     }
   //--- select our open order `ticket`; rejects into `r` when it is not usable
   bool              SelectOurs(const int ticket,SExecutionReport &r)
     {
      if(ticket<=0 || !OrderSelect(ticket,SELECT_BY_TICKET))
        {
         Reject(r,CG_ERR_UNKNOWN_TICKET,"unknown ticket "+IntegerToString(ticket));
         return(false);
        }
      if(OrderMagicNumber()!=m_magic)
        {
         Reject(r,CG_ERR_NOT_OURS,"ticket "+IntegerToString(ticket)+" was not opened by this EA (magic)");
         return(false);
        }
      return(true);
     }

   //--- a failed step: false when it only waits for a later tick, else the rejection
   bool              Failed(SExecutionReport &r,const string what)
     {
      if(m_deferred)
         return(false);
      if(m_last_error==ERR_TRADE_MODIFY_DENIED)
         Reject(r,m_last_error,what+": the order stayed within the broker's freeze level of the market for "+
                IntegerToString(m_freeze_wait_ms/1000)+" s");
      else
         Reject(r,m_last_error,what);
      return(true);
     }
   //--- false when deferred
   bool              OpenOrder(const SOrderCommand &c,const int type,const CSafetyPolicy &safety,CTicketMap &map,SExecutionReport &r)
     {
      string why;
      int code=safety.CheckOpen(c.symbol,c.volume,CgCountOrders(m_magic),why);
      if(code!=0)
        {
         Reject(r,code,why);
         return(true);
        }
      if(!IsTradeAllowed())
        {
         Reject(r,ERR_TRADE_NOT_ALLOWED,"trading is not allowed (AutoTrading off or EA not allowed to trade)");
         return(true);
        }
      double lots=CgNormalizeLots(c.volume,MarketInfo(c.symbol,MODE_LOTSTEP),MarketInfo(c.symbol,MODE_MINLOT),MarketInfo(c.symbol,MODE_MAXLOT));
      if(lots<=0)
        {
         Reject(r,ERR_INVALID_TRADE_VOLUME,"volume "+DoubleToString(c.volume,2)+" is below the symbol's minimum lot");
         return(true);
        }
      bool pending=CgIsPending(type);
      if(pending && c.price<=0)
        {
         Reject(r,CG_ERR_BAD_COMMAND,"a pending order needs a price");
         return(true);
        }
      int ticket=Send(c,type,lots,c.price);
      if(ticket<=0)
         return(Failed(r,"OrderSend failed"));
      map.Set(c.master_account_id,c.master_ticket,ticket,c.symbol);
      r.status=(pending ? "placed" : "filled");
      r.ticket=ticket;
      r.volume=lots;
      if(OrderSelect(ticket,SELECT_BY_TICKET))
        {
         r.price=OrderOpenPrice();
         r.volume=OrderLots();
        }
      if(!pending && (c.sl>0 || c.tp>0))
        {
         int digits=SymbolDigits(c.symbol);
         if(!Modify(ticket,OrderOpenPrice(),c.sl,c.tp,digits))
           {
            if(m_deferred)
               return(false);  // resumed through FindCommandOrder + Recover
            r.error_code=m_last_error;
            r.has_error_code=true;
            r.error_message="filled, but SL/TP could not be set";
           }
        }
      return(true);
     }

public:
   //--- The order an open/place_pending command already opened (open orders,
   //--- then the account history), 0 = none: after a crash between OrderSend
   //--- and saving the report, the command must not trade twice.
   int               FindCommandOrder(const SOrderCommand &c)
     {
      int ticket=FindInPool(c,MODE_TRADES);
      if(ticket<=0)
         ticket=FindInPool(c,MODE_HISTORY);
      return(ticket);
     }
   //--- The report of `c` that opened `ticket` before a restart (or before a
   //--- deferral); SL/TP are set again when the crash came between OrderSend
   //--- and OrderModify. False when setting them is deferred.
   bool              Recover(const SOrderCommand &c,const int ticket,const long now_ms,SExecutionReport &r)
     {
      CgResetReport(r);
      r.command_id=c.command_id;
      r.status=(c.action=="open" ? "filled" : "placed");
      r.ticket=ticket;
      r.symbol=c.symbol;
      r.executed_at_ms=now_ms;
      if(!OrderSelect(ticket,SELECT_BY_TICKET))
         return(true);
      r.price=OrderOpenPrice();
      r.volume=OrderLots();
      bool open=(OrderCloseTime()==0);
      bool stops_missing=((c.sl>0 && OrderStopLoss()==0) || (c.tp>0 && OrderTakeProfit()==0));
      if(open && c.action=="open" && stops_missing)
        {
         if(!Modify(ticket,OrderOpenPrice(),c.sl,c.tp,SymbolDigits(c.symbol)))
           {
            if(m_deferred)
               return(false);
            r.error_code=m_last_error;
            r.has_error_code=true;
            r.error_message="filled, but SL/TP could not be set";
           }
        }
      return(true);
     }
   //--- Execute `c`; the outcome is written to `r` (command_id and status always
   //--- set). False when it is deferred: run it again after RetryAfterMs().
   bool              Execute(const SOrderCommand &c,const long now_ms,const CSafetyPolicy &safety,CTicketMap &map,SExecutionReport &r)
     {
      CgResetReport(r);
      r.command_id=c.command_id;
      r.symbol=c.symbol;
      r.executed_at_ms=now_ms;
      bool reducing=(c.action=="close" || c.action=="cancel_pending");
      // closes and cancels are never dropped for lateness: leaving exposure open is worse
      if(c.expires_at>0 && now_ms>c.expires_at && !reducing)
        {
         r.status="expired";
         r.error_code=CG_ERR_EXPIRED;
         r.has_error_code=true;
         r.error_message="command expired "+IntegerToString(now_ms-c.expires_at)+" ms before execution";
         return(true);
        }
      SymbolSelect(c.symbol,true);  // MarketInfo fails (4106) for symbols not in Market Watch
      if(MarketInfo(c.symbol,MODE_POINT)<=0)
        {
         Reject(r,4106,"unknown symbol "+c.symbol);
         return(true);
        }
      int type=CgMt4Type(c.side,c.order_type);
      if(c.action=="open")
        {
         return(OpenOrder(c,(c.side=="buy" ? OP_BUY : OP_SELL),safety,map,r));
        }
      if(c.action=="place_pending")
        {
         if(!CgIsPending(type))
           {
            Reject(r,CG_ERR_BAD_COMMAND,"place_pending needs order_type limit or stop");
            return(true);
           }
         return(OpenOrder(c,type,safety,map,r));
        }
      int ticket=c.ticket;
      if(ticket<=0)
         ticket=map.Find(c.master_account_id,c.master_ticket);
      r.ticket=ticket;
      if(!SelectOurs(ticket,r))
         return(true);
      if(c.action=="modify")
        {
         if(OrderCloseTime()>0)
           {
            Reject(r,CG_ERR_UNKNOWN_TICKET,"ticket "+IntegerToString(ticket)+" is already closed");
            return(true);
           }
         double price=OrderOpenPrice();
         if(CgIsPending(OrderType()) && c.price>0)
            price=c.price;
         // an absent sl/tp keeps the order's stop; only an explicit 0 removes it
         double sl=(c.has_sl ? c.sl : OrderStopLoss());
         double tp=(c.has_tp ? c.tp : OrderTakeProfit());
         if(!Modify(ticket,price,sl,tp,SymbolDigits(OrderSymbol())))
            return(Failed(r,"OrderModify failed"));
         r.status="modified";
         if(OrderSelect(ticket,SELECT_BY_TICKET))
           {
            r.price=OrderOpenPrice();
            r.volume=OrderLots();
           }
         return(true);
        }
      if(c.action=="cancel_pending")
        {
         if(OrderCloseTime()>0)
           {
            r.status="cancelled";
            r.error_message="already deleted";
            map.RemoveFollower(ticket);
            return(true);
           }
         if(!CgIsPending(OrderType()))
           {
            Reject(r,CG_ERR_BAD_COMMAND,"ticket "+IntegerToString(ticket)+" is not a pending order");
            return(true);
           }
         if(!Delete(ticket))
            return(Failed(r,"OrderDelete failed"));
         r.status="cancelled";
         map.RemoveFollower(ticket);
         return(true);
        }
      //--- close (full or partial)
      if(OrderCloseTime()>0)
        {
         // closed by hand, or by this command before a crash: a partial close
         // left a remainder ("from #<ticket>"), which the report must name
         r.status="closed";
         r.price=OrderClosePrice();
         r.volume=OrderLots();
         r.error_message="already closed";
         int rest=FindSplitRemainder(ticket,OrderSymbol());
         r.new_ticket=rest;
         if(rest>0)
            map.Renumber(ticket,rest);
         else
            map.RemoveFollower(ticket);
         return(true);
        }
      if(CgIsPending(OrderType()))
        {
         Reject(r,CG_ERR_BAD_COMMAND,"ticket "+IntegerToString(ticket)+" is a pending order; use cancel_pending");
         return(true);
        }
      SOrderRow before;
      CgRowFromSelected(before);
      string symbol=OrderSymbol();
      double step=MarketInfo(symbol,MODE_LOTSTEP);
      double min_lot=MarketInfo(symbol,MODE_MINLOT);
      double lots=CgNormalizeLots(MathMin(c.volume,before.lots),step,min_lot,before.lots);
      if(lots<=0 || before.lots-lots<min_lot-1e-9)
         lots=before.lots;  // too small to split: close it all
      if(!CloseOrder(ticket,lots,symbol,before.type==OP_BUY))
         return(Failed(r,"OrderClose failed"));
      r.status="closed";
      r.volume=lots;
      if(OrderSelect(ticket,SELECT_BY_TICKET))
        {
         r.price=OrderClosePrice();
         r.volume=OrderLots();
        }
      if(lots<before.lots-1e-9)
        {
         int rest=FindRemainder(ticket,before);
         r.new_ticket=rest;
         if(rest>0)
            map.Renumber(ticket,rest);
        }
      else
         map.RemoveFollower(ticket);
      return(true);
     }
  };

#endif
